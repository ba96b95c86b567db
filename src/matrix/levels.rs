//! Read-modify-write of `m.room.power_levels`: who moderates, and archiving. Pure
//! functions over the event content; the caller reads it and writes it back if changed.

use serde_json::Value;

use super::client::MODERATOR_POWER;

/// `events_default` of an archived room: above everyone but the bot, so nobody else posts.
const ARCHIVED_EVENTS_DEFAULT: i64 = 100;

/// Gives `user` moderator power (unless they already have more), or takes it away (only
/// from someone at exactly moderator power, which is what roomkey gives). Whether the
/// power levels changed.
pub(super) fn set_moderator(levels: &mut Value, user: &str, moderator: bool) -> bool {
    if !levels["users"].is_object() {
        levels["users"] = Value::Object(serde_json::Map::new());
    }
    let users = levels["users"]
        .as_object_mut()
        .expect("made an object above");
    let current = users.get(user).and_then(Value::as_i64);
    if moderator {
        if current.is_some_and(|level| level >= MODERATOR_POWER) {
            return false;
        }
        users.insert(user.to_owned(), MODERATOR_POWER.into());
        true
    } else if current == Some(MODERATOR_POWER) {
        users.remove(user);
        true
    } else {
        false
    }
}

/// Puts `moderators` at moderator power and, when `exclusive`, takes it from anyone else
/// at exactly that power. Whether the power levels changed.
pub(super) fn set_moderators(levels: &mut Value, moderators: &[String], exclusive: bool) -> bool {
    let mut changed = false;
    if exclusive {
        let stale: Vec<String> = levels["users"]
            .as_object()
            .map(|users| {
                users
                    .iter()
                    .filter(|(id, level)| {
                        level.as_i64() == Some(MODERATOR_POWER) && !moderators.contains(id)
                    })
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default();
        for id in stale {
            changed |= set_moderator(levels, &id, false);
        }
    }
    for id in moderators {
        changed |= set_moderator(levels, id, true);
    }
    changed
}

/// Makes the room read-only for everyone below the bot; whether anything changed.
pub(super) fn archive_levels(levels: &mut Value) -> bool {
    if levels["events_default"]
        .as_i64()
        .is_some_and(|level| level >= ARCHIVED_EVENTS_DEFAULT)
    {
        return false;
    }
    levels["events_default"] = ARCHIVED_EVENTS_DEFAULT.into();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moderators_are_raised_and_stale_ones_dropped() {
        let mut levels = serde_json::json!({"users": {"@bot:hs": 100, "@old:hs": 50, "@low:hs": 10}, "events_default": 0});
        let moderators = vec![
            "@new:hs".to_owned(),
            "@bot:hs".to_owned(),
            "@low:hs".to_owned(),
        ];
        assert!(set_moderators(&mut levels, &moderators, true));
        assert_eq!(
            levels["users"],
            serde_json::json!({"@bot:hs": 100, "@new:hs": 50, "@low:hs": 50})
        );
        assert!(
            !set_moderators(&mut levels, &moderators, true),
            "idempotent"
        );
        assert!(set_moderator(&mut levels, "@new:hs", false));
        assert!(
            !set_moderator(&mut levels, "@bot:hs", false),
            "the bot keeps 100"
        );
    }

    #[test]
    fn archiving_raises_events_default_once() {
        let mut levels = serde_json::json!({"users": {"@bot:hs": 100}, "events_default": 0});
        assert!(archive_levels(&mut levels));
        assert_eq!(levels["events_default"], 100);
        assert!(!archive_levels(&mut levels));
    }
}
