//! One module per LSP request or notification family; the `LanguageServer` impl delegates here.

pub mod bench;
pub mod code_action;
pub mod command;
pub mod config;
pub mod debug;
pub mod diagnostics;
pub mod hover;
pub mod lifecycle;
pub mod notebook;
pub mod sync;
