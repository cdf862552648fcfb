; KRS303 shuffle-after-batch: the module, once per file.
; The rule walks the dataflow's `shuffle` steps and their earlier steps (through reassignments
; and helpers); the dataflow pass already visits every call, and a `(call function: (attribute
; ...))` pattern would be quadratic on long method chains, so the module is matched once.
(module) @module
