//! The fenced code blocks of the project's documents, which tests check against the code.

/// The body of each ```` ```language ```` block of `document`, in order.
pub fn code_blocks<'a>(document: &'a str, language: &str) -> Vec<&'a str> {
    document
        .split(&format!("```{language}\n"))
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or_default())
        .collect()
}
