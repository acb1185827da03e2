//! Plays scripts into events: one notification, a scenario, all types.

use super::catalogue::{Kind, Notice, Scenario, V1_TYPES};
use super::ids::Ids;
use super::render::{self, Container, Content, Event};
use super::scripts::{Script, scenario_script, single_script, v1_equivalent, v1_script};
use super::story::Story;
use super::{SECOND, Target};
use crate::simulate::v1;

/// Builds notifications for one target.
#[derive(Debug, Clone)]
pub struct Generator {
    pub target: Target,
    pub ids: Ids,
}

impl Generator {
    pub fn new(target: Target) -> Generator {
        Generator {
            target,
            ids: Ids::new(),
        }
    }

    pub fn with_ids(target: Target, ids: Ids) -> Generator {
        Generator { target, ids }
    }

    /// The unit tests' generator: default target, fixed seed, so the ids repeat.
    #[cfg(test)]
    pub(super) fn seeded() -> Generator {
        Generator::with_ids(Target::default(), Ids::seeded(7))
    }

    /// One V2 notification of `kind`, signed at `at`, for a new customer whose history leads to it.
    pub fn single(&mut self, kind: Kind, at: i64) -> Event {
        let mut events = self.run(&single_script(kind), at);
        events.remove(0)
    }

    /// One V1 notification (see [`V1_TYPES`]).
    pub fn single_v1(&mut self, v1_type: &'static str, at: i64) -> Event {
        let mut events = self.run(&v1_script(v1_type), at);
        events.remove(0)
    }

    /// A scenario whose last notification is signed at `end`; dates increase along it.
    pub fn scenario(&mut self, scenario: Scenario, end: i64) -> Vec<Event> {
        self.scenario_in(scenario, end, false)
    }

    /// The scenario as V1 would tell it: the steps V1 has a type for (all V1 types for
    /// `all-types`).
    pub fn scenario_v1(&mut self, scenario: Scenario, end: i64) -> Vec<Event> {
        self.scenario_in(scenario, end, true)
    }

    fn scenario_in(&mut self, scenario: Scenario, end: i64, v1: bool) -> Vec<Event> {
        if scenario == Scenario::AllTypes {
            let n = if v1 {
                V1_TYPES.len()
            } else {
                Kind::all().len()
            } as i64;
            let at = |i: usize| end - (n - 1 - i as i64) * SECOND;
            return if v1 {
                V1_TYPES
                    .iter()
                    .enumerate()
                    .map(|(i, t)| self.single_v1(t, at(i)))
                    .collect()
            } else {
                Kind::all()
                    .into_iter()
                    .enumerate()
                    .map(|(i, k)| self.single(k, at(i)))
                    .collect()
            };
        }
        let mut script = scenario_script(scenario);
        if v1 {
            for (_, notice) in &mut script.steps {
                *notice = match *notice {
                    Some(Notice::V2(k)) => v1_equivalent(k).map(Notice::V1),
                    other => other,
                };
            }
        }
        self.run(&script, end)
    }

    /// Plays the script so that its last step happens at `end`; returns the announced events.
    fn run(&mut self, script: &Script, end: i64) -> Vec<Event> {
        // Step times depend only on the steps, so a dry run from 0 gives the span.
        let mut dry = Story::new(&self.target, script.line, 0, &mut Ids::seeded(0));
        let mut scratch = Ids::seeded(0);
        let span = script
            .steps
            .iter()
            .map(|(s, _)| dry.apply(*s, &mut scratch))
            .last()
            .unwrap_or(0);
        let mut story = Story::new(&self.target, script.line, end - span, &mut self.ids);
        let mut events = Vec::new();
        for (step, notice) in &script.steps {
            let at = story.apply(*step, &mut self.ids);
            if let Some(notice) = notice {
                events.push(self.announce(&story, *notice, at));
            }
        }
        events
    }

    fn announce(&mut self, story: &Story, notice: Notice, at: i64) -> Event {
        let subscription = story.is_subscription();
        let status = if subscription { story.status } else { None };
        let content = match notice {
            Notice::V1(t) => Content::V1(v1::body(story, t, at)),
            Notice::V2(kind) => Content::V2(render::container(
                &self.target,
                &mut self.ids,
                story,
                kind,
                at,
            )),
        };
        let has_purchase = match &content {
            Content::V2(Container::Data { transaction, .. }) => transaction.is_some(),
            Content::V2(_) => false,
            Content::V1(_) => !story.txns.is_empty(),
        };
        Event {
            notice,
            uuid: self.ids.uuid(),
            signed_date: at,
            status,
            original_transaction_id: has_purchase.then(|| story.original_transaction_id.clone()),
            transaction_id: if has_purchase {
                story.current().map(|t| t.id.clone())
            } else {
                None
            },
            content,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_dates_increase_and_statuses_follow_the_story() {
        let end = 1_800_000_000_000;
        let events = Generator::seeded().scenario(Scenario::Lifecycle, end);
        let labels: Vec<String> = events.iter().map(|e| e.notice.label()).collect();
        assert_eq!(
            labels,
            [
                "SUBSCRIBED/INITIAL_BUY",
                "DID_RENEW",
                "DID_RENEW",
                "DID_RENEW",
                "DID_CHANGE_RENEWAL_STATUS/AUTO_RENEW_DISABLED",
                "EXPIRED/VOLUNTARY"
            ]
        );
        assert_eq!(events.last().unwrap().signed_date, end);
        assert!(
            events
                .windows(2)
                .all(|w| w[0].signed_date < w[1].signed_date)
        );
        let statuses: Vec<Option<i64>> = events.iter().map(|e| e.status).collect();
        assert_eq!(
            statuses,
            [Some(1), Some(1), Some(1), Some(1), Some(1), Some(2)]
        );
        let otid = events[0].original_transaction_id.clone();
        assert!(events.iter().all(|e| e.original_transaction_id == otid));
        // Each renewal is a new transaction.
        let mut txns: Vec<_> = events.iter().map(|e| e.transaction_id.clone()).collect();
        txns.dedup();
        assert_eq!(txns.len(), 4);
    }
}
