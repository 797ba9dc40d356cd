//! National identifier structure: Korean RRN/ARN, US SSN/ITIN, UK NINO.

use super::Outcome;

/// Korean resident (or alien, `alien = true`) registration number:
/// `YYMMDD-GXXXXXX`. The date and gender digit must be valid; the check digit
/// (absent from numbers issued since October 2020) only decides strength.
pub(super) fn kr_rrn(d: &[u8], alien: bool) -> Outcome {
    if d.len() != 13 {
        return Outcome::Fail;
    }
    let month = d[2] * 10 + d[3];
    let day = d[4] * 10 + d[5];
    let max_day = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => 29,
        _ => return Outcome::Fail,
    };
    if day == 0 || day > max_day {
        return Outcome::Fail;
    }
    let gender_ok = if alien {
        (5..=8).contains(&d[6])
    } else {
        matches!(d[6], 1..=4 | 9 | 0)
    };
    if !gender_ok {
        return Outcome::Fail;
    }
    const W: [u32; 12] = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    let sum: u32 = d[..12].iter().zip(W).map(|(&x, w)| u32::from(x) * w).sum();
    let check = if alien {
        ((11 - sum % 11) + 2) % 10
    } else {
        (11 - sum % 11) % 10
    };
    if check == u32::from(d[12]) {
        Outcome::Pass { strong: true }
    } else {
        Outcome::Weak
    }
}

fn number(d: &[u8]) -> u32 {
    d.iter().fold(0, |acc, &x| acc * 10 + u32::from(x))
}

/// US SSN: area 001–899 except 666, group 01–99, serial 0001–9999, and not
/// one of the well-known advertising numbers.
pub(super) fn us_ssn(d: &[u8]) -> Outcome {
    if d.len() != 9 {
        return Outcome::Fail;
    }
    let (area, group, serial) = (number(&d[..3]), number(&d[3..5]), number(&d[5..]));
    let all = number(d);
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return Outcome::Fail;
    }
    if all == 78_051_120 || all == 219_099_999 || all == 123_456_789 {
        return Outcome::Weak;
    }
    Outcome::Pass { strong: false }
}

/// US ITIN: 9XX-GG-XXXX with group 50–65, 70–88, 90–92 or 94–99.
pub(super) fn us_itin(d: &[u8]) -> Outcome {
    if d.len() != 9 || d[0] != 9 {
        return Outcome::Fail;
    }
    let group = number(&d[3..5]);
    if matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99) {
        Outcome::Pass { strong: false }
    } else {
        Outcome::Fail
    }
}

/// UK National Insurance number prefix rules.
pub(super) fn uk_nino(value: &[u8]) -> Outcome {
    let letters: Vec<u8> = value
        .iter()
        .filter(|b| b.is_ascii_alphabetic())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if letters.len() < 2 {
        return Outcome::Fail;
    }
    let prefix = [letters[0], letters[1]];
    let banned: [&[u8; 2]; 7] = [b"BG", b"GB", b"NK", b"KN", b"TN", b"NT", b"ZZ"];
    if banned.iter().any(|b| **b == prefix) {
        return Outcome::Fail;
    }
    if b"DFIQUV".contains(&prefix[0]) || b"DFIQUVO".contains(&prefix[1]) {
        return Outcome::Fail;
    }
    Outcome::Pass { strong: false }
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
    fn rrn_check_digit_is_a_signal_not_a_filter() {
        assert_eq!(
            kr_rrn(&d("900101-1234568"), false),
            Outcome::Pass { strong: true }
        );
        assert_eq!(kr_rrn(&d("900101-1234567"), false), Outcome::Weak);
        assert_eq!(kr_rrn(&d("901301-1234568"), false), Outcome::Fail);
        assert_eq!(kr_rrn(&d("900101-5234568"), false), Outcome::Fail);
        assert_ne!(kr_rrn(&d("900101-5234568"), true), Outcome::Fail);
    }

    #[test]
    fn ssn_and_itin_structure() {
        assert_eq!(us_ssn(&d("536-22-8726")), Outcome::Pass { strong: false });
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "912-12-3456",
            "123-00-3456",
            "123-45-0000",
        ] {
            assert_eq!(us_ssn(&d(bad)), Outcome::Fail, "{bad}");
        }
        assert_eq!(us_itin(&d("912-70-1234")), Outcome::Pass { strong: false });
        assert_eq!(us_itin(&d("912-93-1234")), Outcome::Fail);
        assert_eq!(uk_nino(b"AB123456C"), Outcome::Pass { strong: false });
        assert_eq!(uk_nino(b"GB123456C"), Outcome::Fail);
    }
}
