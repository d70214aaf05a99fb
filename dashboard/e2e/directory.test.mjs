// Channel and role pickers (issue 16): names come from Discord (the fake the stack points at), are
// searchable and keyboard-driven, and a role the bot cannot assign is flagged before saving.
import { test, expect, eq, shot } from './harness.mjs';

async function adminPage(ctx) {
  const token = await ctx.login(ctx.ADMIN_ID, [ctx.GUILD_ID], 'e2e-admin');
  return { token, page: await ctx.page({ token }) };
}

test('the region picker searches channels by name and adds them with the keyboard', async (ctx) => {
  const g = ctx.GUILD_ID;
  const { token, page } = await adminPage(ctx);
  await page.goto(`/g/${g}/admin/regions`);
  const picker = page.getByTestId('regions-channels');
  const input = picker.getByRole('combobox', { name: 'Channels' });
  await input.fill('help');
  const list = picker.getByRole('listbox');
  await list.getByRole('option', { name: '#python-help' }).waitFor();
  const options = await list.getByRole('option').allTextContents();
  expect(options.length === 2 && options.every((o) => o.includes('help')), `only matching channels are offered: ${options}`);
  await input.press('ArrowDown'); // to the second match
  await input.press('Enter');
  await input.fill('study-h');
  await input.press('Enter');
  const chips = await picker.getByTestId('chip').allTextContents();
  eq(chips.map((c) => c.replace('×', '').trim()).join(' | '), '#python-help | #study-hall', 'the chosen channels, by name');
  await input.press('Backspace'); // an empty search: Backspace removes the last choice
  eq(await picker.getByTestId('chip').count(), 1, 'Backspace removed #study-hall');
  await input.fill('study-h');
  await input.press('Enter');
  await page.getByLabel('Key', { exact: true }).first().fill('e2e-helpers');
  await page.getByLabel('Name', { exact: true }).first().fill('Helpers');
  await page.getByRole('button', { name: 'Add region' }).click();
  const row = page.getByTestId('regions').getByRole('row').filter({ hasText: 'e2e-helpers' });
  await row.getByText('#python-help').waitFor();
  await row.getByText('#study-hall').waitFor();
  await shot(page, 'admin-region-picker');
  const regions = (await ctx.api(`/api/guilds/${g}/admin/regions`, { token })).data;
  const saved = regions.find((r) => r.key === 'e2e-helpers');
  expect(saved && saved.channels.map((c) => c.name).join(',') === 'python-help,study-hall', `saved by id, shown by name: ${JSON.stringify(saved)}`);
});

test('settings pick the announcements channel and admin roles by name', async (ctx) => {
  const g = ctx.GUILD_ID;
  const { token, page } = await adminPage(ctx);
  await page.goto(`/g/${g}/admin/settings`);
  const channelPicker = page.getByTestId('announcements-channel');
  await channelPicker.getByRole('combobox').fill('announce');
  await channelPicker.getByRole('option', { name: '#announcements' }).click();
  const roles = page.getByTestId('admin-roles');
  await roles.getByRole('combobox').fill('mod');
  await roles.getByRole('combobox').press('Enter');
  await roles.getByTestId('chip').filter({ hasText: '@Moderators' }).waitFor();
  await page.getByRole('button', { name: /^Save/ }).click();
  await page.getByRole('status').filter({ hasText: 'Settings saved.' }).waitFor();
  const s = (await ctx.api(`/api/guilds/${g}/admin/settings`, { token })).data;
  const channelName = s.references.channels[s.announcements_channel_id]?.name;
  eq(channelName, 'announcements', 'the announcements channel saved');
  eq(s.admin_role_ids.map((id) => s.references.roles[id]?.name).join(','), 'Moderators', 'the admin role saved');
  await shot(page, 'admin-settings-pickers');
});

test('the rule editor flags a role above the bot before saving and names the channels', async (ctx) => {
  const g = ctx.GUILD_ID;
  const { token, page } = await adminPage(ctx);
  const roles = (await ctx.api(`/api/guilds/${g}/admin/roles`, { token })).data.items;
  const regulars = roles.find((r) => r.name === 'Regulars');
  expect(regulars && regulars.assignable, 'Regulars is below the bot: assignable');
  expect(!roles.find((r) => r.name === 'Moderators').assignable, 'Moderators is above the bot');
  const created = await ctx.api(`/api/guilds/${g}/admin/rules`, { method: 'POST', token, body: {
    name: 'E2E level role', enabled: false, trigger: { event: 'level_up' },
    effects: [{ type: 'role', action: 'add', role_id: regulars.id }] } });
  eq(created.status, 201, `the rule is created (${JSON.stringify(created.data)})`);
  await page.goto(`/g/${g}/admin/rules/${created.data.rule_id}`);
  const rolePicker = page.getByTestId('rule-role-0');
  await rolePicker.getByTestId('chip').filter({ hasText: '@Regulars' }).waitFor();
  await rolePicker.getByRole('combobox').fill('Moder');
  await rolePicker.getByRole('option', { name: /@Moderators/ }).getByText(/cannot assign/).waitFor();
  await rolePicker.getByRole('combobox').press('Enter');
  await rolePicker.getByTestId('chip').filter({ hasText: 'cannot assign' }).waitFor();
  await page.getByTestId('rule-errors').getByText('effects[0].role_id').first().waitFor();
  expect((await page.getByTestId('rule-json').inputValue()).includes(roles.find((r) => r.name === 'Moderators').id),
    'the JSON follows the picker');
  await shot(page, 'admin-rule-role-picker');
  const refused = await ctx.api(`/api/guilds/${g}/admin/rules/${created.data.rule_id}`, { method: 'PUT', token, body: {
    name: 'E2E level role', enabled: false, trigger: { event: 'level_up' },
    effects: [{ type: 'role', action: 'add', role_id: roles.find((r) => r.name === 'Moderators').id }] } });
  eq(refused.status, 422, 'the server refuses it too');
  eq(refused.data.error.details[0].path, 'effects[0].role_id', 'with the JSON path');

  const exclude = page.getByTestId('rule-exclude-channels');
  await exclude.getByRole('combobox').fill('off');
  await exclude.getByRole('combobox').press('Enter');
  await exclude.getByTestId('chip').filter({ hasText: '#off-topic' }).waitFor();
  const json = JSON.parse(await page.getByTestId('rule-json').inputValue());
  const zone = json.conditions.find((c) => c.type === 'zone');
  expect(zone && zone.exclude_channels.length === 1, `the zone condition excludes the channel: ${JSON.stringify(json.conditions)}`);
  await ctx.api(`/api/guilds/${g}/admin/rules/${created.data.rule_id}`, { method: 'DELETE', token });
});

test('the overview names its top channels', async (ctx) => {
  const page = await ctx.page();
  await page.goto(`/g/${ctx.GUILD_ID}`);
  const labels = page.locator('.bar-label');
  await labels.first().waitFor();
  const names = await labels.allTextContents();
  expect(names.length > 0 && names.every((n) => /^#[a-z-]+$/.test(n.trim())), `channel names, not ids: ${names}`);
});

test('the rule form sets no-XP roles, a role multiplier and the booster bonus, and the JSON follows', async (ctx) => {
  const g = ctx.GUILD_ID;
  const { token, page } = await adminPage(ctx);
  const roles = (await ctx.api(`/api/guilds/${g}/admin/roles`, { token })).data.items;
  const regulars = roles.find((r) => r.name === 'Regulars');
  const moderators = roles.find((r) => r.name === 'Moderators');
  const booster = roles.find((r) => r.name === 'Server Booster');
  expect(regulars && moderators && booster, `the fake guild's roles: ${roles.map((r) => r.name)}`);
  const created = await ctx.api(`/api/guilds/${g}/admin/rules`, { method: 'POST', token, body: {
    name: 'E2E multiplied XP', enabled: false, trigger: { event: 'message_create' },
    effects: [{ type: 'credit', to: 'actor', currency: 'xp', amount: 10 }] } });
  eq(created.status, 201, `the rule is created (${JSON.stringify(created.data)})`);
  try {
    await page.goto(`/g/${g}/admin/rules/${created.data.rule_id}`);
    const noXp = page.getByTestId('rule-noxp-roles');
    await noXp.getByRole('combobox').fill('Moder');
    await noXp.getByRole('combobox').press('Enter');
    await noXp.getByTestId('chip').filter({ hasText: '@Moderators' }).waitFor();
    await noXp.getByRole('combobox').press('Escape');   // a multi-picker stays open for the next pick
    await page.getByTestId('rule-multiplier-add').click();
    const target = page.getByTestId('rule-multiplier-0-target');
    await target.getByRole('combobox').fill('Regul');
    await target.getByRole('combobox').press('Enter');
    await target.getByTestId('chip').filter({ hasText: '@Regulars' }).waitFor();
    await page.getByTestId('rule-multiplier-0-times').fill('3');
    await page.getByTestId('rule-booster').fill('1.5');
    await page.getByTestId('rule-valid').filter({ hasText: 'Valid rule.' }).waitFor();
    const json = JSON.parse(await page.getByTestId('rule-json').inputValue());
    const none = json.conditions.find((c) => c.type === 'roles');
    eq(JSON.stringify(none?.none_of), JSON.stringify([moderators.id]), 'members with @Moderators earn no XP');
    eq(JSON.stringify(json.effects[0].multipliers), JSON.stringify([{ role: regulars.id, times: 3 }, { role: booster.id, times: 1.5 }]),
      'the role multiplier and the booster bonus, in the order the form lists them');
    await shot(page, 'admin-rule-multipliers');
    await page.getByRole('button', { name: 'Run backtest' }).click();   // saving needs a backtest of the draft
    await page.getByTestId('backtest-report').waitFor({ timeout: 60000 });
    await page.getByRole('button', { name: 'Save new version' }).click();
    await page.getByTestId('save-status').filter({ hasText: `Saved as version ${created.data.version + 1}` }).waitFor();
    const saved = (await ctx.api(`/api/guilds/${g}/admin/rules/${created.data.rule_id}`, { token })).data;
    eq(JSON.stringify(saved.definition.effects[0].multipliers), JSON.stringify(json.effects[0].multipliers), 'saved as shown');
  } finally {   // a failure leaves no rule behind for later tests
    await ctx.api(`/api/guilds/${g}/admin/rules/${created.data.rule_id}`, { method: 'DELETE', token });
  }
});
