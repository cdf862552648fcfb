; KRS403 batch-size-ignored-with-dataset: `<x>.fit/evaluate/predict(..., batch_size=...)` (and
; `validation_batch_size=`); whether the input is a pipeline, generator or PyDataset is decided
; in Rust through the dataflow.
(call
  function: (attribute
    attribute: (identifier) @_method)
  arguments: (argument_list
    (keyword_argument
      name: (identifier) @_keyword) @argument)
  (#any-of? @_method "fit" "evaluate" "predict")
  (#any-of? @_keyword "batch_size" "validation_batch_size")) @call
