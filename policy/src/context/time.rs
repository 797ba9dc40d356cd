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

/// A time zone for turning a timestamp into the [`LocalTime`] policies see,
/// with daylight-saving rules from the IANA database compiled into the
/// crate (no file or network access).
#[derive(Debug, Clone)]
pub struct Zone(jiff::tz::TimeZone);

impl Zone {
    /// UTC.
    pub fn utc() -> Self {
        Self(jiff::tz::TimeZone::UTC)
    }

    /// An IANA zone such as `Europe/Berlin` or `Asia/Seoul`, or `UTC`.
    pub fn named(name: &str) -> Result<Self, crate::error::PolicyError> {
        jiff::tz::TimeZone::get(name).map(Self).map_err(|e| {
            crate::error::PolicyError::invalid(
                crate::error::Location::origin("time zone"),
                "timezone",
                format!("unknown time zone `{name}`: {e}"),
            )
        })
    }

    /// The local time in this zone at `unix_secs` (seconds since the epoch).
    pub fn local_time(&self, unix_secs: i64) -> LocalTime {
        let Ok(ts) = jiff::Timestamp::from_second(unix_secs) else {
            return LocalTime::from_unix(unix_secs, 0);
        };
        let dt = self.0.to_datetime(ts);
        let weekday =
            Weekday::ORDER[usize::try_from(dt.weekday().to_monday_zero_offset()).unwrap_or(0) % 7];
        let minute = i32::from(dt.hour()) * 60 + i32::from(dt.minute());
        LocalTime {
            weekday,
            minute_of_day: u16::try_from(minute).unwrap_or(0),
        }
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
        // Zones follow daylight saving: 2024-07-01T12:00Z is 14:00 in Berlin
        // (CEST), 2024-01-01T12:00Z is 13:00 (CET); Seoul has no DST.
        let berlin = Zone::named("Europe/Berlin").unwrap();
        assert_eq!(
            berlin.local_time(1_719_835_200),
            LocalTime {
                weekday: Weekday::Mon,
                minute_of_day: 14 * 60
            }
        );
        assert_eq!(
            berlin.local_time(1_704_110_400),
            LocalTime {
                weekday: Weekday::Mon,
                minute_of_day: 13 * 60
            }
        );
        let seoul = Zone::named("Asia/Seoul").unwrap();
        assert_eq!(
            seoul.local_time(1_704_110_400),
            LocalTime {
                weekday: Weekday::Mon,
                minute_of_day: 21 * 60
            }
        );
        assert_eq!(Zone::utc().local_time(1_704_110_400).minute_of_day, 12 * 60);
        assert!(Zone::named("Mars/Olympus").is_err());
        for odd in ["", "m", "éé", "日本", "moné", "xyz", "mondays"] {
            assert!(odd.parse::<Weekday>().is_err(), "{odd}");
        }
    }
}
