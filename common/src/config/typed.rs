//! Typed views of the resources the daemons act on.
