//! keras-lsp: finds Keras/TensorFlow training pitfalls; shared by the language server and the CLI.

pub mod analysis;
pub mod bench;
pub mod cli;
pub mod document;
pub mod finding;
pub mod fix;
pub mod forest;
pub mod line_index;
pub mod notebook;
pub mod rules;
pub mod server;
pub mod settings;
pub mod syntax;
