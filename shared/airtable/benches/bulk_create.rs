fn main() {
    println!("bulk_create: not written yet");
}
