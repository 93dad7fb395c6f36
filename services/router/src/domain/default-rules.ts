import type { Rule } from './rules';

/**
 * The rule set a fresh router starts with (version 1, created by "seed"). Order matters: modifiers
 * first (they `continue`), then languages tier 1 does not speak, then tier-3 and tier-2 topics
 * (so "API error" is not mistaken for a tier-1 error message), then the ten tier-1 categories.
 * Keywords are written without accents; matching strips them from the text too.
 */
export const DEFAULT_RULES: Rule[] = [
  { id: 'vip', description: 'VIP customers jump the queue', when: { vip: true }, then: { addPriority: 30, skills: [] }, continue: true },
  {
    id: 'repeat-escalations',
    description: 'customers escalated twice recently skip tier 1',
    when: { minRecentEscalations: 2 },
    then: { minTier: 2, addPriority: 15 },
    continue: true,
  },
  { id: 'voice-is-live', description: 'a caller is waiting on the line', when: { channels: ['phone'] }, then: { addPriority: 10 }, continue: true },
  {
    id: 'foreign-language',
    description: 'languages no tier-1 agent speaks go to external specialists (tier 5)',
    when: { languagesNotIn: ['es', 'en'] },
    then: { tier: 5, category: 'foreign-language', skills: ['translation'] },
  },
  {
    id: 'outages',
    description: 'service down for many: tier 3',
    when: {
      keywords: {
        es: ['caida del servicio', 'servicio caido', 'caida general', 'no funciona nada', 'todo caido', 'interrupcion del servicio', 'apagon'],
        en: ['outage', 'service down', 'everything is down', 'site is down', 'is down for everyone', 'major incident'],
      },
    },
    then: { tier: 3, category: 'outages', addPriority: 30, skills: ['infrastructure'] },
  },
  {
    id: 'servers',
    when: {
      keywords: {
        es: ['servidor', 'servidores', 'maquina virtual', 'kernel', 'disco lleno', 'certificado ssl', 'dns'],
        en: ['server', 'servers', 'virtual machine', 'kernel panic', 'disk full', 'ssl certificate', 'dns', 'load balancer'],
      },
    },
    then: { tier: 3, category: 'servers', addPriority: 10, skills: ['infrastructure'] },
  },
  {
    id: 'databases',
    when: {
      keywords: {
        es: ['base de datos', 'bases de datos', 'sql', 'consulta lenta', 'backup', 'copia de seguridad', 'replica'],
        en: ['database', 'sql', 'slow query', 'backup', 'replication', 'deadlock'],
      },
    },
    then: { tier: 2, category: 'databases', skills: ['databases'] },
  },
  {
    id: 'apis',
    when: {
      keywords: { any: ['api', 'webhook', 'endpoint', 'token de api', 'api key', 'rate limit', 'oauth'] },
      patterns: { any: ['\\b(4\\d\\d|5\\d\\d) (error|status|code)\\b', '\\bhttp (4|5)\\d\\d\\b'] },
    },
    then: { tier: 2, category: 'apis', skills: ['apis'] },
  },
  {
    id: 'integrations',
    when: {
      keywords: {
        es: ['integracion', 'integraciones', 'conector', 'sincronizacion', 'sincronizar', 'salesforce', 'zapier', 'sap'],
        en: ['integration', 'integrations', 'connector', 'sync', 'synchronization', 'salesforce', 'zapier', 'sap'],
      },
    },
    then: { tier: 2, category: 'integrations', skills: ['integrations'] },
  },
  {
    id: 'social-media-complaints',
    description: 'public complaints on social channels are reputational: higher priority',
    when: {
      channels: ['messenger', 'instagram', 'x', 'whatsapp', 'telegram'],
      keywords: {
        es: ['queja', 'reclamo', 'reclamacion', 'pesimo', 'fatal', 'verguenza', 'estafa', 'denuncia', 'indignado', 'horrible'],
        en: ['complaint', 'complain', 'terrible', 'awful', 'worst', 'scam', 'disgusted', 'unacceptable', 'ridiculous'],
      },
    },
    then: { tier: 1, category: 'social-media-complaints', addPriority: 20, skills: ['social'] },
  },
  {
    id: 'access-passwords',
    when: {
      keywords: {
        es: ['contrasena', 'clave', 'no puedo entrar', 'no puedo acceder', 'iniciar sesion', 'inicio de sesion', 'acceso', 'bloqueada', 'bloqueado', 'restablecer', 'olvide'],
        en: ['password', 'cannot log in', "can't log in", 'cant log in', 'login', 'log in', 'sign in', 'locked out', 'reset my', '2fa', 'two factor', 'forgot'],
      },
    },
    then: { tier: 1, category: 'access-passwords' },
  },
  {
    id: 'error-messages',
    when: {
      keywords: {
        es: ['mensaje de error', 'error', 'errores', 'falla', 'fallo', 'no funciona', 'se cuelga', 'pantalla azul'],
        en: ['error message', 'error', 'errors', 'fails', 'failed', 'not working', "doesn't work", 'crash', 'crashes', 'blue screen'],
      },
    },
    then: { tier: 1, category: 'error-messages' },
  },
  {
    id: 'device-setup',
    when: {
      keywords: {
        es: ['configurar', 'configuracion', 'impresora', 'dispositivo', 'telefono nuevo', 'movil', 'router', 'emparejar', 'escaner'],
        en: ['set up', 'setup', 'configure', 'printer', 'device', 'new phone', 'pair', 'pairing', 'scanner'],
      },
    },
    then: { tier: 1, category: 'device-setup' },
  },
  {
    id: 'user-accounts',
    when: {
      keywords: {
        es: ['mi cuenta', 'cuenta de usuario', 'crear cuenta', 'borrar cuenta', 'eliminar cuenta', 'cambiar correo', 'perfil', 'usuario'],
        en: ['my account', 'user account', 'create account', 'delete account', 'close my account', 'change email', 'profile', 'username'],
      },
    },
    then: { tier: 1, category: 'user-accounts' },
  },
  {
    id: 'orders-shipping',
    when: {
      keywords: {
        es: ['pedido', 'envio', 'paquete', 'entrega', 'seguimiento', 'no ha llegado', 'no llego', 'mensajeria', 'compra'],
        en: ['order', 'shipping', 'shipment', 'package', 'parcel', 'delivery', 'tracking', "hasn't arrived", 'not arrived', 'courier'],
      },
    },
    then: { tier: 1, category: 'orders-shipping' },
  },
  {
    id: 'installs-updates',
    when: {
      keywords: {
        es: ['instalar', 'instalacion', 'actualizar', 'actualizacion', 'descargar', 'version nueva', 'parche'],
        en: ['install', 'installation', 'update', 'upgrade', 'download', 'new version', 'patch'],
      },
    },
    then: { tier: 1, category: 'installs-updates' },
  },
  {
    id: 'connectivity',
    when: {
      keywords: {
        es: ['internet', 'wifi', 'conexion', 'sin conexion', 'se desconecta', 'red', 'vpn', 'senal', 'lento'],
        en: ['internet', 'wifi', 'wi-fi', 'connection', 'connectivity', 'disconnects', 'network', 'vpn', 'signal', 'offline'],
      },
    },
    then: { tier: 1, category: 'connectivity' },
  },
  {
    id: 'returns-refunds',
    when: {
      keywords: {
        es: ['devolucion', 'devolver', 'reembolso', 'reintegro', 'cambio de producto', 'garantia', 'cobro indebido'],
        en: ['return', 'refund', 'money back', 'exchange', 'warranty', 'charged twice', 'chargeback'],
      },
    },
    then: { tier: 1, category: 'returns-refunds' },
  },
  {
    id: 'forms',
    when: {
      keywords: {
        es: ['formulario', 'solicitud', 'rellenar', 'adjuntar documento', 'tramite', 'factura'],
        en: ['form', 'application form', 'fill in', 'fill out', 'submit', 'invoice'],
      },
    },
    then: { tier: 1, category: 'forms' },
  },
];
