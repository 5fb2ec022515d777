// The managed plugin's config.json, and the settable env the entrypoint reads back: one table, so
// the defaults Docker shows (`docker plugin inspect`) are the ones the entrypoint applies.

/** [name, default, description]: the CONTIV_* table of the seed, then the older names. */
export const SETTINGS = [
  ['CONTIV_ROLE', 'netplugin', 'contiv net service, options: [netmaster, netplugin]'],
  ['CONTIV_LOG_DIR', '/var/log/contiv', 'contiv log file directory (inside the plugin: the log_dir mount)'],
  ['CONTIV_NETPLUGIN_CONSUL_ENDPOINTS', '', 'consul endpoints (not supported: etcd only)'],
  [
    'CONTIV_NETPLUGIN_ETCD_ENDPOINTS',
    'http://127.0.0.1:2379',
    'comma-delimited etcd endpoints ("" with role netmaster: embedded store)',
  ],
  ['CONTIV_NETPLUGIN_VLAN_UPLINKS', '', 'comma-delimited VLAN uplink interfaces used by OVS'],
  ['CONTIV_NETPLUGIN_VTEP_IP', '', 'vtep ip for vxlan (default: first host IPv4)'],
  ['CONTIV_NETPLUGIN_CONTROL_IP', '', 'control ip (default: the vtep ip)'],
  ['CONTIV_NETPLUGIN_FORWARD_MODE', '', 'options: [bridge, routing]'],
  ['CONTIV_NETPLUGIN_HOST', '', "host name (default: the kernel's)"],
  ['CONTIV_NETPLUGIN_LOG_LEVEL', 'INFO', 'options: [DEBUG, INFO, WARN, ERROR]'],
  ['CONTIV_NETPLUGIN_MODE', '', 'options: [docker, kubernetes, swarm-mode] ("": docker)'],
  ['CONTIV_NETPLUGIN_NET_MODE', '', 'options: [vlan, vxlan]'],
  ['CONTIV_NETPLUGIN_SYSLOG_URL', 'udp://127.0.0.1:514', 'syslog url udp://ip:port or tcp://ip:port'],
  ['CONTIV_NETPLUGIN_USE_SYSLOG', '', 'also send logs to syslog (CONTIV_NETPLUGIN_SYSLOG_URL) if set'],
  ['CONTIV_NETPLUGIN_USE_JSON_LOG', '', 'log JSON lines if set'],
  ['CONTIV_NETPLUGIN_VXLAN_PORT', '4789', 'VXLAN UDP port'],
  [
    'CONTIV_NETPLUGIN_NETMASTER_URL',
    '',
    "role netplugin without etcd: netmaster's URL (https://host:9999), whose store API it follows",
  ],
  [
    'CONTIV_NETPLUGIN_NETMASTER_TOKEN',
    '',
    "with CONTIV_NETPLUGIN_NETMASTER_URL: this host's token (the master writes its credential to the host's /run/contiv/admin.conf)",
  ],
  [
    'CONTIV_NETPLUGIN_NETMASTER_CA',
    '',
    "with CONTIV_NETPLUGIN_NETMASTER_URL: the CA netmaster's certificate is signed by, PEM in base64",
  ],
  ['CONTIV_NETMASTER_CONSUL_ENDPOINTS', '', 'consul endpoints (not supported)'],
  ['CONTIV_NETMASTER_ETCD_ENDPOINTS', '', 'etcd endpoints ("": the netplugin ones)'],
  ['CONTIV_NETMASTER_FORWARD_MODE', '', 'options: [bridge, routing]'],
  ['CONTIV_NETMASTER_EXTERNAL_ADDRESS', '0.0.0.0:9999', 'netmaster REST address'],
  ['CONTIV_NETMASTER_INTERNAL_ADDRESS', '', 'netmaster RPC address (default: host ip and the external port)'],
  ['CONTIV_NETMASTER_INFRA', 'default', 'options: [aci, default] (aci not supported)'],
  ['CONTIV_NETMASTER_LOG_LEVEL', 'INFO', 'options: [DEBUG, INFO, WARN, ERROR]'],
  ['CONTIV_NETMASTER_MODE', '', 'options: [docker, kubernetes, swarm-mode]'],
  ['CONTIV_NETMASTER_PLUGIN_NAME', '@NAME@', "the driver name: this plugin's name:tag"],
  ['CONTIV_NETMASTER_NET_MODE', '', 'options: [vlan, vxlan]'],
  ['CONTIV_NETMASTER_SYSLOG_URL', 'udp://127.0.0.1:514', 'syslog url udp://ip:port or tcp://ip:port'],
  ['CONTIV_NETMASTER_USE_SYSLOG', '', 'also send logs to syslog if set (the netplugin URL first)'],
  ['CONTIV_NETMASTER_USE_JSON_LOG', '', 'log JSON lines if set'],
  [
    'CONTIV_OVS',
    'auto',
    "own: the plugin's userspace OVS; host: the host's; auto: the host's when its db.sock answers",
  ],
  // Older generation: each counts only when set to something other than its default.
  ['iflist', '', 'VLAN uplink interface used by OVS'],
  ['cluster_store', 'etcd://localhost:2379', 'Etcd cluster store url'],
  ['ctrl_ip', 'none', 'Local IP address to be used by netplugin for control communication'],
  ['vtep_ip', 'none', 'Local VTEP IP address to be used by netplugin'],
  [
    'plugin_role',
    '',
    "'master': netmaster and netplugin; 'worker': netplugin only; unset: CONTIV_ROLE decides",
  ],
  ['listen_url', ':9999', 'Netmaster url to listen http requests on'],
  ['control_url', ':9999', 'Netmaster url for control messages'],
  ['dbg_flag', '', "To enable debug mode, set to '-debug'"],
  ['plugin_name', '@NAME@', 'Network Driver name for requests to dockerd: name:tag of the plugin'],
];

export const SOCKET = 'netplugin.sock';
/** The env entry holding the name the plugin was built for (the @NAME@ defaults). */
export const BUILD_NAME = 'V2PLUGIN_BUILD_NAME';
/** Inside the plugin: the docker_dir mount's destination, and the engine's socket in it. */
export const DOCKER_DIR = '/run/contiv/docker';
export const DOCKER_SOCKET = `${DOCKER_DIR}/docker.sock`;
/** Inside the plugin: the host's /run, to find the host's OVS. */
export const HOST_RUN = '/host/run';

/** config.json for a plugin to be created as `name` (name:tag). */
export function pluginConfig(name) {
  return {
    description: 'Contiv network plugin for Docker (contiv-ts)',
    documentation: 'https://contiv.github.io',
    entrypoint: ['/usr/bin/node', '/contiv/v2plugin/entrypoint.mjs'],
    workdir: '/contiv',
    network: { type: 'host' },
    interface: { types: ['docker.networkdriver/1.0', 'docker.ipamdriver/1.0'], socket: SOCKET },
    linux: {
      // NET_ADMIN: taps, veths, OVS; NET_RAW: the userspace datapath's packet sockets; SYS_ADMIN: nsenter.
      capabilities: ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_SYS_ADMIN'],
      devices: [{ path: '/dev/net/tun' }],
    },
    mounts: [
      {
        name: 'log_dir',
        description: 'host directory for plugin_bootup.log and the component logs (must exist)',
        source: '/var/log/contiv',
        destination: '/var/log/contiv',
        type: 'bind',
        options: ['rbind'],
        settable: ['source'],
      },
      // The socket's directory, not the socket: a restarted dockerd makes a new socket file, which
      // a file bind mount would never show (it keeps the old inode).
      {
        name: 'docker_dir',
        description:
          "the directory of the engine's API socket docker.sock: Contiv networks become Docker networks",
        source: '/var/run',
        destination: DOCKER_DIR,
        type: 'bind',
        options: ['bind'],
        settable: ['source'],
      },
      {
        name: 'host_run',
        description: "the host's /run: its OVS (openvswitch/db.sock) when it runs one",
        source: '/run',
        destination: HOST_RUN,
        type: 'bind',
        options: ['rbind'],
        settable: ['source'],
      },
    ],
    env: [
      ...SETTINGS.map(([n, v, d]) => ({
        name: n,
        description: d,
        settable: ['value'],
        value: v === '@NAME@' ? name : v,
      })),
      // Not settable: the entrypoint's default for the plugin name settings (see which one was set).
      { name: BUILD_NAME, description: 'the name this plugin was built for', value: name },
    ],
  };
}

// `node config.mjs NAME`: print config.json (the build script's use).
if (process.argv[1]?.endsWith('config.mjs') && process.argv[2]) {
  process.stdout.write(`${JSON.stringify(pluginConfig(process.argv[2]), null, 2)}\n`);
}
