; KRS301 dataset-without-prefetch: the module, once per file.
; The rule is about how a tf.data pipeline is consumed (fit/evaluate/predict, for, iter), which
; the dataflow pass computes for the whole file; matching the module once keeps the single
; traversal cheap (one match per file) instead of matching every call and filtering in Rust.
(module) @module
