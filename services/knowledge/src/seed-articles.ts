import type { Pool } from 'pg';
import { withTransaction } from '@omni/db';

interface Seed {
  key: string;
  category: string;
  tags: string[];
  /** 0: the customer can follow it alone (offered by self-service); 1: written for tier-1 agents */
  tier: 0 | 1;
  es: { title: string; body: string };
  en: { title: string; body: string };
}

// Tier-1 answers for the classifier's commonest categories, written for this product. Each pair is
// one translation group; ids are fixed so a restart (or several replicas) inserts them once.
const SEEDS: Seed[] = [
  {
    key: 'password-reset',
    tier: 0,
    category: 'access-passwords',
    tags: ['password', 'contraseña', 'login', 'acceso'],
    es: {
      title: 'Cómo restablecer tu contraseña',
      body: `Si olvidaste tu contraseña o tu cuenta está bloqueada tras varios intentos:

1. Abre la pantalla de inicio de sesión y pulsa **¿Olvidaste tu contraseña?**
2. Escribe el correo electrónico de tu cuenta. Recibirás un enlace válido durante 30 minutos.
3. Elige una contraseña nueva de al menos 12 caracteres que no hayas usado antes.

Si el correo no llega, revisa la carpeta de spam. Si la cuenta sigue bloqueada, espera 15 minutos: el bloqueo se levanta solo.`,
    },
    en: {
      title: 'How to reset your password',
      body: `If you forgot your password or your account is locked after several attempts:

1. Open the sign-in screen and choose **Forgot your password?**
2. Enter your account's email address. You will get a link that works for 30 minutes.
3. Pick a new password of at least 12 characters that you have not used before.

If the email does not arrive, look in your spam folder. If the account is still locked, wait 15 minutes: the lock lifts by itself.`,
    },
  },
  {
    key: 'order-status',
    tier: 0,
    category: 'orders-shipping',
    tags: ['order', 'pedido', 'envío', 'shipping', 'tracking'],
    es: {
      title: 'Dónde está mi pedido: estado y seguimiento del envío',
      body: `Puedes ver el estado de tu pedido en **Mi cuenta → Pedidos**. Cada pedido muestra su estado (preparando, enviado, entregado) y, cuando sale del almacén, el número de seguimiento del transportista.

- Los pedidos salen en 1–2 días laborables.
- El seguimiento puede tardar hasta 24 horas en mostrar movimientos.
- Si el pedido aparece como entregado y no lo tienes, espera un día (a veces se marca antes) y luego contáctanos con el número de pedido.`,
    },
    en: {
      title: 'Where is my order: order status and shipment tracking',
      body: `You can see your order's status under **My account → Orders**. Each order shows its state (preparing, shipped, delivered) and, once it leaves the warehouse, the carrier's tracking number.

- Orders ship within 1–2 business days.
- Tracking may take up to 24 hours to show any movement.
- If the order says delivered but you do not have it, wait one day (it is sometimes marked early), then contact us with the order number.`,
    },
  },
  {
    key: 'connectivity',
    tier: 0,
    category: 'connectivity',
    tags: ['wifi', 'internet', 'conexión', 'connection', 'red', 'network'],
    es: {
      title: 'Sin conexión a internet o wifi lento',
      body: `Antes de nada, comprueba si el problema es de un solo dispositivo o de todos.

1. Reinicia el router: desenchúfalo 30 segundos y vuelve a enchufarlo. Espera dos minutos.
2. Acércate al router o conecta un cable para descartar la cobertura del wifi.
3. Olvida la red wifi en el dispositivo y vuelve a conectarte con la clave.
4. Si ningún dispositivo navega, revisa si hay una incidencia en tu zona en nuestra página de estado.`,
    },
    en: {
      title: 'No internet connection or slow wifi',
      body: `First, check whether the problem affects one device or all of them.

1. Restart the router: unplug it for 30 seconds, plug it back in and wait two minutes.
2. Move closer to the router or plug in a cable to rule out wifi coverage.
3. Forget the wifi network on the device and join it again with the key.
4. If no device can browse, look for an incident in your area on our status page.`,
    },
  },
  {
    key: 'returns',
    tier: 1,
    category: 'returns-refunds',
    tags: ['devolución', 'reembolso', 'return', 'refund'],
    es: {
      title: 'Devoluciones y reembolsos',
      body: `Tienes 30 días desde la entrega para devolver un producto sin usar y en su embalaje.

1. Ve a **Mi cuenta → Pedidos**, elige el pedido y pulsa **Devolver**.
2. Imprime la etiqueta y entrega el paquete en cualquier punto de recogida.
3. Cuando lo recibamos, el reembolso se hace en el mismo método de pago en 5–10 días.

Los productos defectuosos se pueden devolver en cualquier momento durante la garantía.`,
    },
    en: {
      title: 'Returns and refunds',
      body: `You have 30 days from delivery to return an unused item in its packaging.

1. Go to **My account → Orders**, pick the order and choose **Return**.
2. Print the label and drop the parcel at any pick-up point.
3. Once we receive it, the refund goes back to the same payment method within 5–10 days.

Faulty items can be returned at any time while under warranty.`,
    },
  },
  {
    key: 'printer-setup',
    tier: 1,
    category: 'device-setup',
    tags: ['impresora', 'printer', 'configurar', 'setup'],
    es: {
      title: 'Configurar una impresora nueva',
      body: `1. Conecta la impresora a la misma red wifi que el ordenador (desde su panel o con el botón WPS).
2. En el ordenador, abre **Configuración → Impresoras** y pulsa **Añadir impresora**.
3. Si no aparece, instala el controlador desde la web del fabricante y vuelve a intentarlo.

Imprime una página de prueba para confirmar que funciona.`,
    },
    en: {
      title: 'Set up a new printer',
      body: `1. Join the printer to the same wifi network as the computer (from its panel or with the WPS button).
2. On the computer, open **Settings → Printers** and choose **Add printer**.
3. If it does not show up, install the driver from the maker's website and try again.

Print a test page to confirm it works.`,
    },
  },
  {
    key: 'app-update',
    tier: 1,
    category: 'installs-updates',
    tags: ['actualizar', 'instalar', 'update', 'install'],
    es: {
      title: 'La aplicación no se instala o no se actualiza',
      body: `- Comprueba que tienes al menos 1 GB libre.
- Cierra la aplicación por completo y reinicia el dispositivo.
- Desinstala la versión anterior e instala la última desde la tienda oficial: tus datos están en tu cuenta y no se pierden.`,
    },
    en: {
      title: 'The app will not install or update',
      body: `- Make sure at least 1 GB of storage is free.
- Close the app completely and restart the device.
- Uninstall the old version and install the latest from the official store: your data lives in your account and is not lost.`,
    },
  },
];

/** Inserts the built-in published articles that are missing (idempotent; a deleted-and-edited one is left alone). */
export async function seedArticles(pool: Pool): Promise<number> {
  let inserted = 0;
  await withTransaction(pool, async (c) => {
    for (const s of SEEDS) {
      const group = `kb-seed-${s.key}-es`;
      for (const lang of ['es', 'en'] as const) {
        const id = `kb-seed-${s.key}-${lang}`;
        const { title, body } = s[lang];
        const r = await c.query(
          `INSERT INTO knowledge.articles (id, translation_group, language, title, body, category, tags, tier, status, version, created_by, updated_by, published_by, published_at)
           VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text[], $8::int, 'published', 1, 'seed', 'seed', 'seed', now())
           ON CONFLICT DO NOTHING`,
          [id, group, lang, title, body, s.category, s.tags, s.tier],
        );
        if (r.rowCount) {
          inserted++;
          await c.query(
            `INSERT INTO knowledge.article_versions (article_id, version, title, body, category, tags, tier, status, author, note)
             VALUES ($1::text, 1, $2::text, $3::text, $4::text, $5::text[], $6::int, 'published', 'seed', 'built-in article') ON CONFLICT DO NOTHING`,
            [id, title, body, s.category, s.tags, s.tier],
          );
        }
      }
    }
  });
  return inserted;
}
