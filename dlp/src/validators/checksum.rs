//! Checksum algorithms: Luhn, NPI, Korean BRN, IBAN mod-97.

/// Luhn mod-10 over digits (most significant first).
pub(super) fn luhn(digits: &[u8]) -> bool {
    if digits.len() < 2 {
        return false;
    }
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    matches!(sum % 10, 0)
}

/// US National Provider Identifier: 10 digits, Luhn over `80840` + number.
pub(super) fn npi(digits: &[u8]) -> bool {
    if digits.len() != 10 {
        return false;
    }
    let mut full = vec![8, 0, 8, 4, 0];
    full.extend_from_slice(digits);
    luhn(&full)
}

/// Korean business registration number (사업자등록번호), 10 digits.
pub(super) fn kr_brn(digits: &[u8]) -> bool {
    if digits.len() != 10 {
        return false;
    }
    const W: [u32; 9] = [1, 3, 7, 1, 3, 7, 1, 3, 5];
    let mut sum: u32 = digits[..9]
        .iter()
        .zip(W)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    sum += u32::from(digits[8]) * 5 / 10;
    (10 - sum % 10) % 10 == u32::from(digits[9])
}

/// IBAN (ISO 13616): country letters, check digits, BBAN; mod 97 == 1.
pub(super) fn iban(value: &[u8]) -> bool {
    let chars: Vec<u8> = value
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if chars.len() < 15 || chars.len() > 34 {
        return false;
    }
    if !chars[..2].iter().all(u8::is_ascii_uppercase) || !chars[2..4].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in chars[4..].iter().chain(&chars[..4]) {
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            let v = u32::from(c - b'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Vec<u8> {
        s.bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect()
    }

    #[test]
    fn checksums_accept_known_good_and_reject_altered() {
        type Check = fn(&[u8]) -> bool;
        let table: &[(&str, Check, bool)] = &[
            ("4111111111111111", luhn, true),
            ("4111111111111112", luhn, false),
            ("1234567893", npi, true),
            ("1234567890", npi, false),
            ("1248100998", kr_brn, true),
            ("1248100999", kr_brn, false),
        ];
        for (input, f, want) in table {
            assert_eq!(f(&d(input)), *want, "{input}");
        }
        assert!(iban(b"DE89 3704 0044 0532 0130 00"));
        assert!(iban(b"GB29NWBK60161331926819"));
        assert!(!iban(b"GB29NWBK60161331926818"));
        assert!(!iban(b"12"));
    }
}
