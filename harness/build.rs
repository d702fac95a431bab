// Scenario files are expanded into test cases at compile time
// (rstest `#[files]`): rebuild the tests when one is added or removed.
fn main() {
    println!("cargo:rerun-if-changed=../scenarios");
}
