; KRS203 tensorboard-heavy-logging: `<callee>(..., <heavy option>=<value>)`, one match per option.
; The callee is resolved in Rust to `callbacks.TensorBoard` (aliases exist).
(call
  function: (_) @callee
  arguments: (argument_list
    (keyword_argument
      name: (identifier) @_keyword
      value: (_) @value) @argument)
  (#any-of? @_keyword
    "histogram_freq" "write_images" "write_grads" "embeddings_freq" "profile_batch")) @call
