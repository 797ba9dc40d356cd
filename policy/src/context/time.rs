//! Local time of day and day of week, as policies see them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    const ORDER: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// Monday = 0 … Sunday = 6.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl FromStr for Weekday {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        const FULL: [&str; 7] = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ];
        let lower = s.trim().to_ascii_lowercase();
        Self::ORDER
            .into_iter()
            .zip(FULL)
            .find(|(d, full)| lower == *full || lower == d.to_string())
            .map(|(d, _)| d)
            .ok_or_else(|| {
                format!("unknown day `{s}`; expected mon, tue, wed, thu, fri, sat or sun")
            })
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", format!("{self:?}").to_ascii_lowercase())
    }
}

/// A local wall-clock time: day of week and minute of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalTime {
    /// Day of the week.
    pub weekday: Weekday,
    /// Minutes since local midnight, 0..1440.
    pub minute_of_day: u16,
}

impl LocalTime {
    /// Local time for a Unix timestamp in a zone `utc_offset_minutes` east of
    /// UTC. (The proxy resolves DST for its configured zone and passes the
    /// offset in force.)
    pub fn from_unix(unix_secs: i64, utc_offset_minutes: i32) -> Self {
        let local = unix_secs + i64::from(utc_offset_minutes) * 60;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        // 1970-01-01 was a Thursday (index 3).
        let weekday = Weekday::ORDER[usize::try_from((days + 3).rem_euclid(7)).unwrap_or(0)];
        Self {
            weekday,
            minute_of_day: u16::try_from(secs / 60).unwrap_or(0),
        }
    }

    /// Parses `HH:MM` into minutes since midnight (`24:00` is 1440).
    pub fn parse_hhmm(s: &str) -> Result<u16, String> {
        let (h, m) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not HH:MM"))?;
        let h: u16 = h
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not HH:MM"))?;
        let m: u16 = m
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not HH:MM"))?;
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return Err(format!("`{s}` is not a time of day"));
        }
        Ok(h * 60 + m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_to_local() {
        // 2024-01-01T00:00:00Z was a Monday.
        let t = LocalTime::from_unix(1_704_067_200, 0);
        assert_eq!(
            t,
            LocalTime {
                weekday: Weekday::Mon,
                minute_of_day: 0
            }
        );
        // One minute before, at UTC-5: Sunday 18:59.
        let t = LocalTime::from_unix(1_704_067_140, -300);
        assert_eq!(
            t,
            LocalTime {
                weekday: Weekday::Sun,
                minute_of_day: 18 * 60 + 59
            }
        );
        assert_eq!(LocalTime::parse_hhmm("08:30"), Ok(510));
        assert!(LocalTime::parse_hhmm("25:00").is_err());
        assert_eq!("Friday".parse::<Weekday>(), Ok(Weekday::Fri));
        assert_eq!("TUE".parse::<Weekday>(), Ok(Weekday::Tue));
        for odd in ["", "m", "éé", "日本", "moné", "xyz", "mondays"] {
            assert!(odd.parse::<Weekday>().is_err(), "{odd}");
        }
    }
}
