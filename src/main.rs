fn main() {
    println!("mlscope");
}
