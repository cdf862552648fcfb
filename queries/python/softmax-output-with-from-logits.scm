; KRS602 softmax-output-with-from-logits: `<model>.compile(...)`; Rust follows `<model>` to its
; construction and the loss to its constructor.
(call
  function: (attribute
    object: (_) @model_ref
    attribute: (identifier) @_method)
  (#eq? @_method "compile")) @compile
