// Owns one valid example of every Contiv object (from the seed transcripts and Contiv's docs), for
// the model and REST tests alike. It checks nothing itself.

import type { ObjType, PlainObject } from '../../policy/model/index.js';

/** One valid example per object; the serviceLB address sits inside the example network's subnet. */
export const EXAMPLES: Record<ObjType, PlainObject> = {
  global: { name: 'global', fwdMode: 'routing' },
  tenant: { tenantName: 'blue' },
  network: {
    tenantName: 'default',
    networkName: 'contiv-net',
    subnet: '20.1.1.0/24',
    gateway: '20.1.1.254',
    pktTag: 1001,
  },
  endpointGroup: {
    tenantName: 'default',
    groupName: 'web',
    networkName: 'contiv-net',
    policies: ['prod_web'],
  },
  policy: { tenantName: 'default', policyName: 'prod_web' },
  rule: {
    tenantName: 'default',
    policyName: 'prod_web',
    ruleId: '2',
    direction: 'in',
    protocol: 'tcp',
    port: 80,
    action: 'allow',
    priority: 10,
  },
  netprofile: { tenantName: 'default', profileName: 'gold', bandwidth: '10 mbps', burst: 100 },
  appProfile: { tenantName: 'default', appProfileName: 'app1', endpointGroups: ['web'] },
  extContractsGroup: {
    tenantName: 'default',
    contractsGroupName: 'ext1',
    contractsType: 'provided',
    contracts: ['uni/tn-common/brc-default'],
  },
  Bgp: {
    hostname: 'netplugin-node1',
    routerip: '50.1.1.1/24',
    as: '65002',
    'neighbor-as': '500',
    neighbor: '50.1.1.2',
  },
  serviceLB: {
    tenantName: 'default',
    serviceName: 'svc1',
    networkName: 'contiv-net',
    ipAddress: '20.1.1.200',
    selectors: ['app=web'],
    ports: ['80:8080:TCP'],
  },
  aciGw: {
    name: 'aciGw',
    physicalDomain: 'allCont-dom',
    pathBindings: 'topology/pod-1/paths-101/pathep-[eth1/14]',
  },
};
