// Owns the complete feature list netplugin compiles with: forwarding, policy, netprofile, host
// access, the DNS punt, BGP's routes, service load balancing.
// Order is for readability only: features never share an owner or a flow.

import type { PipelineFeature } from '../../policy/compiler/feature.js';
import { bgpFeature } from './bgp.js';
import { dnsFeature } from './dns.js';
import { hostAccessFeature } from './hostaccess.js';
import { forwardingFeatures } from './index.js';
import { netProfileFeature } from './netprofile.js';
import { policyFeature } from './policy.js';
import { serviceFeature } from './service.js';

export const allFeatures: readonly PipelineFeature[] = [
  ...forwardingFeatures,
  policyFeature,
  netProfileFeature,
  hostAccessFeature,
  dnsFeature,
  bgpFeature,
  serviceFeature,
];
