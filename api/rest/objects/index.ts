// Owns the table of object types' own REST behaviour (see behaviour.ts); a type not listed has
// only the model's checks and an empty Oper.
import type { ObjType } from '../../../policy/model/index.js';
import type { ObjectBehaviour } from './behaviour.js';
import { bgp } from './bgp.js';
import { endpointGroup } from './endpoint-group.js';
import { global } from './global.js';
import { network } from './network.js';
import { policy } from './policy.js';
import { serviceLB } from './service-lb.js';
import { tenant } from './tenant.js';

export type { Attempt, ObjectBehaviour } from './behaviour.js';

const BEHAVIOUR: Partial<Record<ObjType, ObjectBehaviour>> = {
  tenant,
  network,
  endpointGroup,
  policy,
  global,
  Bgp: bgp,
  serviceLB,
};

const NONE: ObjectBehaviour = {};

export const behaviourOf = (t: ObjType): ObjectBehaviour => BEHAVIOUR[t] ?? NONE;
