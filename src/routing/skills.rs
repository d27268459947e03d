//! Skills and priorities: what an agent can do (skill levels 1..5), what a call asks for
//! (a set of skills, each with a minimum level), how that requirement relaxes while the user
//! waits (`[[routing.skill_steps]]`, then any agent after `skill_wait_ms`), and the rank a
//! user's priority gives it in the queue.
//!
//! Why: one small vocabulary shared by the parsers (connectAgent, callAgent, token claims,
//! the config file) and the routing rules, so that "agent A may take this call now" is
//! decided in exactly one place (`Skills::covers`).
//!
//! Invariant: a `Skills` is sorted by name with each name once and every level in 1..=5, so
//! two equal requirements compare (and hash) equal however the client spelled them, and
//! `covers` is one merge walk, O(a + r).
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The highest skill level.
pub const MAX_LEVEL: u8 = 5;
/// Most skills an agent or a requirement may list.
pub const MAX_SKILLS: usize = 32;
/// Longest skill name, in bytes.
pub const MAX_SKILL_NAME: usize = 64;
/// The priority range; a token claim outside it is clamped, a config value refused.
pub const PRIORITY_RANGE: std::ops::RangeInclusive<i32> = -1000..=1000;

/// Skill names with levels (an agent's: what it has; a call's: the minimum it needs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Skills(Vec<(Arc<str>, u8)>);

impl Skills {
    /// Skills from a JSON value: an object `{"billing": 4}` (levels 1..5) or an array of
    /// names `["billing"]` (each at level 1); Err says what is wrong, for a `bad_payload`.
    pub fn from_json(v: &Value) -> Result<Skills, String> {
        let mut out: Vec<(Arc<str>, u8)> = match v {
            Value::Null => Vec::new(),
            Value::Array(names) => names
                .iter()
                .map(|n| match n {
                    Value::String(s) => Ok((name(s)?, 1)),
                    _ => Err("skill names must be strings".to_owned()),
                })
                .collect::<Result<_, _>>()?,
            Value::Object(levels) => levels
                .iter()
                .map(|(n, l)| Ok((name(n)?, level(n, l)?)))
                .collect::<Result<_, String>>()?,
            _ => return Err("skills must be an object of levels or an array of names".into()),
        };
        if out.len() > MAX_SKILLS {
            return Err(format!("at most {MAX_SKILLS} skills"));
        }
        out.sort();
        out.dedup_by(|b, a| {
            // A name listed twice keeps its higher level.
            let same = a.0 == b.0;
            if same {
                a.1 = a.1.max(b.1);
            }
            same
        });
        Ok(Skills(out))
    }

    /// Skills from (name, level) pairs, validated as `from_json` does.
    pub fn of<'a>(pairs: impl IntoIterator<Item = (&'a str, u8)>) -> Result<Skills, String> {
        let map: serde_json::Map<String, Value> = pairs
            .into_iter()
            .map(|(n, l)| (n.to_owned(), Value::from(l)))
            .collect();
        Skills::from_json(&Value::Object(map))
    }

    /// Whether no skill is listed (as a requirement: any agent).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The (name, level) pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u8)> {
        self.0.iter().map(|(n, l)| (&**n, *l))
    }

    /// The names listed, sorted.
    pub(super) fn names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.0.iter().map(|(n, _)| n)
    }

    /// The first name listed (in name order), None when empty: the key a requirement is
    /// indexed under (an agent covers it only if it has that skill).
    pub(super) fn first_name(&self) -> Option<&Arc<str>> {
        self.0.first().map(|(n, _)| n)
    }

    /// The level of skill `name`, if listed.
    pub fn level(&self, name: &str) -> Option<u8> {
        self.0
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(|i| self.0[i].1)
    }

    /// Whether these (an agent's) skills meet requirement `need`: every skill it lists at
    /// its minimum level or above. O(a + r) merge walk.
    pub fn covers(&self, need: &Skills) -> bool {
        let mut have = self.0.iter();
        'need: for (n, min) in &need.0 {
            for (h, l) in have.by_ref() {
                match (**h).cmp(&**n) {
                    std::cmp::Ordering::Less => continue,
                    std::cmp::Ordering::Equal if l >= min => continue 'need,
                    _ => return false,
                }
            }
            return false;
        }
        true
    }

    /// The union of two requirements, each skill at the higher of its minimums.
    pub fn union(&self, other: &Skills) -> Skills {
        let mut all: Vec<(Arc<str>, u8)> = self.0.iter().chain(&other.0).cloned().collect();
        all.sort();
        all.dedup_by(|b, a| {
            let same = a.0 == b.0;
            if same {
                a.1 = a.1.max(b.1);
            }
            same
        });
        Skills(all)
    }

    /// This requirement after `step`: its `drop` skills gone, its `lower` skills' minimums
    /// capped at the level given.
    pub fn relaxed(&self, step: &SkillStep) -> Skills {
        let mut out = self.clone();
        out.0.retain(|(n, _)| !step.drop.iter().any(|d| **d == **n));
        for (n, l) in &mut out.0 {
            if let Some(cap) = step.lower.level(n) {
                *l = (*l).min(cap);
            }
        }
        out
    }
}

/// A skill name, checked.
fn name(s: &str) -> Result<Arc<str>, String> {
    if s.is_empty() || s.len() > MAX_SKILL_NAME {
        return Err(format!(
            "a skill name must be 1 to {MAX_SKILL_NAME} bytes long"
        ));
    }
    Ok(Arc::from(s))
}

/// A skill level, checked.
fn level(name: &str, v: &Value) -> Result<u8, String> {
    v.as_u64()
        .and_then(|l| u8::try_from(l).ok())
        .filter(|l| (1..=MAX_LEVEL).contains(l))
        .ok_or_else(|| format!("the level of skill {name:?} must be an integer from 1 to 5"))
}

/// One step of `[[routing.skill_steps]]`: after `after` of waiting, the requirement drops
/// the skills in `drop` and lowers the minimums in `lower`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkillStep {
    /// Waiting time (since the user's first ask) at which the step applies.
    pub after: Duration,
    /// Skills no longer required.
    pub drop: Vec<Arc<str>>,
    /// Skills whose minimum level becomes at most the level given.
    pub lower: Skills,
    /// The requirement left after this (last) step holds for good: no "any agent" step.
    pub strict: bool,
}

/// A named entry point (`[[routing.entry]]`) a user may call through with `callAgent
/// {entry}`: the priority and skills it gives, and who may use it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub priority: i32,
    /// Origins (the connection's `Origin` header, exactly) allowed to use it.
    pub origins: Vec<String>,
    /// Anyone may use it, whatever its origin.
    pub public: bool,
    /// The skills a call through it requires.
    pub skills: Skills,
}

impl Entry {
    /// Whether a user connected from `origin` may call through this entry.
    pub fn admits(&self, origin: Option<&str>) -> bool {
        self.public || origin.is_some_and(|o| self.origins.iter().any(|e| e == o))
    }
}

/// What the loop vouches for about a registering party, from outside the event data: the
/// connection's `Origin` header, whether a verified token proved the registration, and that
/// token's `capacity`, `priority` and `skills` claims (which win over what the client sends).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub origin: Option<Arc<str>>,
    /// A token proved this registration: its claims replace the client's own.
    pub verified: bool,
    /// The token's capacity (an agent's); None: `default_capacity`.
    pub capacity: Option<u32>,
    pub priority: Option<i32>,
    /// The token's skills (an agent's); they replace any the client sends.
    pub skills: Option<Skills>,
}

/// The requirement `needs` has after waiting `waited`, under `steps` and `wait` (the time
/// the last requirement holds, `skill_wait_ms`), and how long after the first ask it next
/// changes (None: never again).
pub(super) fn requirement_at(
    needs: &Skills,
    steps: &[SkillStep],
    wait: Duration,
    waited: Duration,
) -> (Skills, Option<Duration>) {
    if needs.is_empty() {
        return (Skills::default(), None);
    }
    let mut now = needs.clone();
    for step in steps {
        if step.after > waited {
            return (now, Some(step.after));
        }
        now = now.relaxed(step);
        if now.is_empty() {
            return (now, None);
        }
    }
    let strict = steps.last().is_some_and(|s| s.strict);
    let any_at = steps.last().map_or(Duration::ZERO, |s| s.after) + wait;
    match (strict, waited >= any_at) {
        (true, _) => (now, None),
        (false, true) => (Skills::default(), None),
        (false, false) => (now, Some(any_at)),
    }
}

/// The queue rank (lower goes first) of a user of `priority` asking `at_ms` milliseconds
/// after the queue's origin: with `aging` (one priority level per that long), higher
/// priority × aging − time asked goes first, so the order never needs re-keying (aging is
/// continuous); without, higher priority first.
pub(super) fn rank(priority: i32, at_ms: u64, aging: Option<Duration>) -> i64 {
    let p = i64::from(priority.clamp(*PRIORITY_RANGE.start(), *PRIORITY_RANGE.end()));
    match aging {
        None => -p,
        Some(a) => {
            let a_ms = i64::try_from(a.as_millis()).unwrap_or(i64::MAX / 2_000);
            let t = i64::try_from(at_ms).unwrap_or(i64::MAX / 4);
            t.saturating_sub(p.saturating_mul(a_ms))
        }
    }
}

#[cfg(test)]
#[path = "skills_tests.rs"]
mod tests;
