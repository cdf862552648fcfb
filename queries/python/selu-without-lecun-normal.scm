; KRS103 selu-without-lecun-normal: a SELU activation argument, keyword or positional
; (`activation="selu"`, `Dense(64, "selu")`, `Activation("selu")`, `activation=tf.nn.selu`).
; Patterns start at the argument, not at the call, so deeply nested calls stay cheap to match;
; Rust checks that it is the activation of a weight layer (or of an `Activation` layer right
; after one) and reads the kernel initializer.
(keyword_argument
  name: (identifier) @_keyword
  value: (_) @activation
  (#eq? @_keyword "activation"))

((string) @activation
  (#match? @activation "^[rRuU]?[\"']selu[\"']$"))

(attribute
  attribute: (identifier) @_name
  (#eq? @_name "selu")) @activation
