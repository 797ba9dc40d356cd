//! Arbitrary method, URL and header text through the classifier: never panics.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use policy::Classifier;

fn classifier() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| Classifier::builtin().expect("built-in catalogue"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let method = parts.next().unwrap_or("GET");
    let url = parts.next().unwrap_or("");
    let header = parts.next().unwrap_or("");
    let headers = vec![("ChatGPT-Account-Id".to_owned(), header.to_owned())];
    let c = classifier();
    let _ = c.classify_url(method, url, &headers);
    let _ = c.lookup_host(url);
    let _ = c.classify_host(url);
});
