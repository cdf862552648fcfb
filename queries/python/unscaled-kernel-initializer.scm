; KRS101 unscaled-kernel-initializer: `<layer>(..., kernel_initializer=<init>)`, and the
; `depthwise_initializer=` / `pointwise_initializer=` of (separable) depthwise convolutions.
; The layer is not matched by name here (aliases like `from keras.layers import Dense as D`
; exist); Rust resolves it through the imports and classifies the initializer.
(call
  arguments: (argument_list
    (keyword_argument
      name: (identifier) @_keyword
      value: (_) @value))
  (#any-of? @_keyword "kernel_initializer" "depthwise_initializer" "pointwise_initializer")) @call
