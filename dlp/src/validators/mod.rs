//! Validators: checksums and structural checks applied to regex matches.
//!
//! Each returns an [`Outcome`]: `Fail` drops the match, `Weak` keeps it one
//! confidence level lower, `Pass` keeps it (and for checksum validators that
//! can only signal, such as the Korean RRN check digit, raises it).

mod checksum;
mod national;
mod token;

use crate::rules::Validator;

/// The verdict of a validator on one match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Valid; `strong` when a checksum corroborates the shape.
    Pass {
        /// A checksum confirmed the value.
        strong: bool,
    },
    /// Structurally plausible but uncorroborated (lower confidence).
    Weak,
    /// Not a valid value: the match is dropped.
    Fail,
}

/// Runs `validator` over the matched bytes.
pub fn check(validator: Validator, value: &[u8]) -> Outcome {
    match validator {
        Validator::Luhn => pass_if(checksum::luhn(&digits(value))),
        Validator::Npi => pass_if(checksum::npi(&digits(value))),
        Validator::KrBrn => pass_if(checksum::kr_brn(&digits(value))),
        Validator::IbanMod97 => pass_if(checksum::iban(value)),
        Validator::KrRrn => national::kr_rrn(&digits(value), false),
        Validator::KrArn => national::kr_rrn(&digits(value), true),
        Validator::UsSsn => national::us_ssn(&digits(value)),
        Validator::UsItin => national::us_itin(&digits(value)),
        Validator::UkNino => national::uk_nino(value),
        Validator::Jwt => token::jwt(value),
        Validator::Password => token::password(value),
    }
}

fn pass_if(ok: bool) -> Outcome {
    if ok {
        Outcome::Pass { strong: true }
    } else {
        Outcome::Fail
    }
}

/// The decimal digits of `value` as numbers 0..=9.
fn digits(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect()
}
