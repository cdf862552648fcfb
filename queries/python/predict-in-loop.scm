; KRS402 predict-in-loop: `<receiver>.predict(...)`. Whether the call sits in a loop body and
; whether the receiver is known to be a Keras model is decided in Rust.
(call
  function: (attribute
    object: (_) @receiver
    attribute: (identifier) @_method)
  (#eq? @_method "predict")) @call
