//! `#[stage]` misuse is a compile error pointing at the offending code.
//! The expected messages are in compile_fail/*.stderr.

#[test]
fn misuse_is_reported_at_the_code() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
    t.pass("tests/compile_pass/*.rs");
}
