; KRS401 large-batch-size: `<x>.fit(...)`, `<x>.evaluate(...)` and `<x>.batch(...)`. The batch
; size is read in Rust (by keyword or position); whether `<x>.batch` is a tf.data pipeline
; consumed by `fit` is decided through the dataflow.
(call
  function: (attribute
    attribute: (identifier) @_method)
  arguments: (argument_list)
  (#any-of? @_method "fit" "evaluate" "batch")) @call
