; KRS102 constant-kernel-initializer: `kernel_initializer=<init>` (and the `depthwise_initializer=`
; / `pointwise_initializer=` of depthwise and separable convolutions) in a call's arguments.
; The pattern starts at the keyword argument, not at the call, so deeply nested calls stay cheap
; to match; Rust takes the call from the argument's parent and resolves it through the imports
; (aliases like `from keras.layers import Dense as D` exist), then classifies the initializer.
(keyword_argument
  name: (identifier) @_keyword
  value: (_) @value
  (#any-of? @_keyword "kernel_initializer" "depthwise_initializer" "pointwise_initializer")) @argument
