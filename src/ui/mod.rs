//! The terminal user interface: pure rendering of the app's state with a theme.
