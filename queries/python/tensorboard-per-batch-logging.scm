; KRS202 tensorboard-per-batch-logging: `<callee>(..., update_freq=<string or integer>)`.
; The callee is resolved in Rust to `callbacks.TensorBoard` (aliases exist).
(call
  function: (_) @callee
  arguments: (argument_list
    (keyword_argument
      name: (identifier) @_keyword
      value: [(string) (integer)] @value))
  (#eq? @_keyword "update_freq")) @call
