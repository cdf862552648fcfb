; KRS402 predict-in-loop: each `<receiver>.predict(...)` call. Whether the receiver is a Keras
; model is resolved through scopes by the rule itself.
(call
  function: (attribute
    object: (_) @receiver
    attribute: (identifier) @_method)
  (#eq? @_method "predict")) @call
