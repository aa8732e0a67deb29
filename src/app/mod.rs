//! The application: state, messages, the update function, the effect runner and keymap
//! resolution. The only place where backend, domain and ui meet.
