; KRS103 selu-without-lecun-normal: a SELU activation argument, keyword or positional
; (`Dense(64, "selu")`, `Activation("selu")`, `activation=tf.nn.selu`). Rust checks that it is the
; activation of a weight layer (or an `Activation` layer right after one) and reads the kernel
; initializer.
(call
  arguments: (argument_list
    (keyword_argument
      name: (identifier) @_keyword
      value: (_) @activation))
  (#eq? @_keyword "activation")) @call

(call
  arguments: (argument_list
    (string) @activation)
  (#match? @activation "^[rRuU]?[\"']selu[\"']$")) @call

(call
  arguments: (argument_list
    (attribute
      attribute: (identifier) @_name) @activation)
  (#eq? @_name "selu")) @call
