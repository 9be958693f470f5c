//! The capture dissector (in progress).
