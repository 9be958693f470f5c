//! Whole-system tests; the fixture tests of fd-core live in tools/dissect/tests.
