//! keras-lsp: a language server and CLI that finds Keras/TensorFlow training pitfalls.

pub mod bench;
