; KRS201 checkpoint-too-frequent: `<callee>(..., save_freq=<integer>)`.
; The callee is not matched by name here (aliases like `MC = ModelCheckpoint` exist);
; Rust resolves it through the imports to `callbacks.ModelCheckpoint`.
(call
  function: (_) @callee
  arguments: (argument_list
    (keyword_argument
      name: (identifier) @_keyword
      value: (integer) @value))
  (#eq? @_keyword "save_freq")) @call
