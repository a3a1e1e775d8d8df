import { CommandRegistry } from '@lumino/commands';

import { Widget } from '@lumino/widgets';

import plugin, { CommandIDs, PLUGIN_ID } from '../index';

import { LlmbenchPanel } from '../panel';

import { fakeServer, flush, healthyRoutes, job } from './fakeserver';

describe(PLUGIN_ID, () => {
  it('adds the panel to the left area, polls, and registers the palette commands', async () => {
    const server = fakeServer(healthyRoutes([job()], []));
    const commands = new CommandRegistry();
    const added: { widget: Widget; area: string }[] = [];
    const activated: string[] = [];
    const app = {
      commands,
      shell: {
        add: (widget: Widget, area: string) => added.push({ widget, area }),
        activateById: (id: string) => activated.push(id)
      },
      serviceManager: { serverSettings: server.api.serverSettings }
    };
    const paletteItems: { command: string; category: string }[] = [];
    const palette = {
      addItem: (item: { command: string; category: string }) =>
        paletteItems.push(item)
    };

    (plugin.activate as any)(app, null, null, palette, null, null);

    expect(added).toHaveLength(1);
    expect(added[0].area).toBe('left');
    const panel = added[0].widget as LlmbenchPanel;
    expect(panel.node.dataset.testid).toBe('llmbench-panel');

    expect(commands.label(CommandIDs.open)).toBe('llmbench: Open panel');
    expect(commands.label(CommandIDs.refresh)).toBe('llmbench: Refresh panel');
    expect(paletteItems.map(i => i.command).sort()).toEqual(
      [CommandIDs.open, CommandIDs.refresh].sort()
    );

    await commands.execute(CommandIDs.open);
    expect(activated).toEqual([panel.id]);

    await flush(10);
    expect(server.calls.map(c => c.path)).toContain('jobs');
    await commands.execute(CommandIDs.refresh);
    panel.render();
    expect(
      panel.node.querySelectorAll('[data-testid="llmbench-panel-job"]')
    ).toHaveLength(1);

    panel.dispose();
  });
});
