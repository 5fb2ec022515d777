// Owns the harness's public surface: one import for tests that start real OVS and netns containers.
// It must never hold logic of its own; it only re-exports.
//
// Typical use:
//   after(runCleanups);
//   test('...', async (t) => {
//     if (!requireLab(t)) return;
//     const ovs = await startOvs();                       // private ovsdb-server + ovs-vswitchd
//     const br = await ovs.addBridge({ controller: 'tcp:127.0.0.1:6653' });
//     const a = await addContainer(ovs, br, { name: 'a', ip: '10.1.0.1/24', ofport: 1 });
//     ...
//   });

export type { CleanupFn, CleanupHandle, CleanupOptions, OwnedResources } from './cleanup.js';
export { findOwnedBy, onCleanup, runCleanups, runCleanupsSync, sweepStale } from './cleanup.js';
export { MAX_IFNAME, uniqueName } from './names.js';
export type { Container, ContainerOptions, Listener, Namespace } from './netns.js';
export { addContainer, addNamespace } from './netns.js';
export type { OfpPrintOptions } from './ofctl.js';
export { ofpPrint } from './ofctl.js';
export type { BridgeOptions, DatapathType, OvsInstance, StartOvsOptions } from './ovs.js';
export { startOvs, stripFlowStats } from './ovs.js';
export type { Skippable } from './require.js';
export { LAB_COMMANDS, missingFor, requireCommands, requireLab } from './require.js';
export type { RunOptions } from './run.js';
export { CommandError, run, succeeds } from './run.js';
