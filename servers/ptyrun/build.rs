//! Links with the userspace linker script from libsys.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-arg-bins=-T{dir}/../../libsys/user.ld");
    println!("cargo:rerun-if-changed=../../libsys/user.ld");
}
