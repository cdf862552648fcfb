; KRS302 serial-dataset-transform: the module, once per file.
; The rule needs to know which `.map`/`.interleave` calls are tf.data pipeline steps (pandas
; `.map` and builtin `map` never are), which the dataflow pass computes for the whole file; the
; rule walks its steps. A `(call function: (attribute ...))` pattern would also keep one
; in-progress query state per enclosing call while the cursor descends a method chain, which
; is quadratic on long chains; matching the module once keeps the single traversal cheap.
(module) @module
