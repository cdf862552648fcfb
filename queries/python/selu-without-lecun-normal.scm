; KRS103 selu-without-lecun-normal: a SELU activation value, keyword or positional
; (`activation="selu"`, `Dense(64, "selu")`, `Activation("selu")`, `activation=tf.nn.selu`,
; `activation=selu`). Patterns match the value itself, not the call or the keyword, so neither
; deep nesting nor thousands of other `activation=` arguments cost anything; Rust checks that
; it is the activation of a weight layer (or of an `Activation` layer right after one) and reads
; the kernel initializer.
((string) @activation
  (#match? @activation "^[rRuU]?[\"']selu[\"']$"))

(attribute
  attribute: (identifier) @_name
  (#eq? @_name "selu")) @activation

((identifier) @activation
  (#eq? @activation "selu"))
