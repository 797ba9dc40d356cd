//! `dlp`: streaming detection of sensitive data in byte streams (see issue 3).
