; KRS305 cache-after-shuffle: the module, once per file.
; The rule walks the dataflow's `cache` steps and the `shuffle` steps before them (through
; reassignments and helpers); the dataflow pass already visits every call, and a `(call
; function: (attribute ...))` pattern would be quadratic on long method chains, so the module
; is matched once.
(module) @module
