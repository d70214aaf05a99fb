import { describe, expect, it } from 'vitest';
import { describeLine } from './provenance';

const base = { reason: '', rule_id: null, rule_version: null, rule_name: null, event_id: null, event_type: null, actor_id: null, actor_name: null, season_id: null, import_source: null, clawback_of: null };

describe('ledger line provenance', () => {
  it('names the rule at its version and the event of a rule credit', () => {
    expect(describeLine({ ...base, kind: 'rule', reason: 'Message XP', rule_id: 4, rule_version: 3, rule_name: 'Message XP', event_id: 123, event_type: 'message_create' }))
      .toBe("rule 'Message XP' @ v3 · event message_create #123");
  });

  it('names the admin and their reason of a correction or award, by id when the name is unknown', () => {
    expect(describeLine({ ...base, kind: 'correction', reason: 'typo', actor_id: '42', actor_name: 'ada' })).toBe('admin @ada: typo');
    expect(describeLine({ ...base, kind: 'admin_award', reason: 'winner', actor_id: '900000000000000001' })).toBe('admin @…000001: winner');
  });

  it('says what a clawback took back, and shows imports, season resets and system corrections', () => {
    expect(describeLine({ ...base, kind: 'clawback', reason: 'x', clawback_of: 77, rule_id: 2, rule_version: 1, rule_name: 'Deleted', event_id: 9, event_type: 'message_delete' }))
      .toBe("clawback of #77 · rule 'Deleted' @ v1 · event message_delete #9");
    expect(describeLine({ ...base, kind: 'import', reason: 'import from mee6', import_source: 'mee6', actor_id: '42', actor_name: 'ada' }))
      .toBe('import (mee6) · admin @ada: import from mee6');
    expect(describeLine({ ...base, kind: 'season_reset', reason: 'season 2 closed', season_id: 2 })).toBe('season 2 reset');
    expect(describeLine({ ...base, kind: 'correction', reason: 'reset on leave', event_id: 5, event_type: 'member_leave' }))
      .toBe('event member_leave #5 · reset on leave');
  });
});
