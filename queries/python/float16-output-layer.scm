; KRS503 float16-output-layer: model constructions, resolved in Rust to `Sequential`/`Model`.
; `Sequential([...])`: a list as first argument.
(call
  arguments: (argument_list
    .
    (list))) @model

; `Model(inputs=..., outputs=...)`.
(call
  arguments: (argument_list
    (keyword_argument
      name: (identifier) @_keyword))
  (#eq? @_keyword "outputs")) @model

; `Model(inputs, outputs)`.
(call
  arguments: (argument_list
    .
    (identifier)
    .
    (identifier))) @model

; `model.add(layer(...))` on a `Sequential()` built without a list.
(call
  function: (attribute
    object: (_)
    attribute: (identifier) @_add)
  arguments: (argument_list
    .
    (call) @added
    .)
  (#eq? @_add "add")) @add
