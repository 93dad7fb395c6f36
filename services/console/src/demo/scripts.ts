/**
 * What the demo's customers say and its simulated agents answer. Mostly the seeds' common tier-1
 * problems (passwords, orders, returns, connectivity, billing), a share of tier-2/3 topics, and some
 * German and French for tier 5 (external specialists and foreign languages).
 */
export interface Problem {
  lang: 'es' | 'en' | 'de' | 'fr';
  text: string;
  followUp?: string;
  subject?: string;
}

export const PROBLEMS: Problem[] = [
  { lang: 'es', text: 'Hola, olvidé mi contraseña y no puedo entrar en mi cuenta', followUp: 'Ya probé a restablecerla pero no me llega el correo', subject: 'No puedo iniciar sesión' },
  { lang: 'es', text: 'Mi pedido 4471 no ha llegado todavía, ¿dónde está?', followUp: 'El seguimiento lleva tres días sin moverse', subject: 'Pedido 4471 sin entregar' },
  { lang: 'es', text: 'Quiero devolver unas zapatillas, me quedan pequeñas', subject: 'Devolución' },
  { lang: 'es', text: 'No tengo conexión a internet desde esta mañana, el router parpadea en rojo', followUp: 'Ya lo reinicié dos veces', subject: 'Sin conexión' },
  { lang: 'es', text: 'Me habéis cobrado dos veces la factura de marzo', subject: 'Cobro duplicado' },
  { lang: 'en', text: "I can't log in, it says my account is locked", followUp: 'I tried the reset link twice', subject: 'Locked out' },
  { lang: 'en', text: 'Where is my order? It was supposed to arrive yesterday', subject: 'Late order' },
  { lang: 'en', text: 'I would like to return a jacket, how do I get a label?', subject: 'Return label' },
  { lang: 'en', text: 'My wifi keeps dropping every few minutes', followUp: 'It happens on every device', subject: 'Wifi drops' },
  { lang: 'en', text: 'I was charged twice for my subscription this month', subject: 'Double charge' },
  { lang: 'en', text: 'The API returns 500 errors when we call the orders endpoint with a large page size', followUp: 'Started after your deploy last night', subject: 'API 500 errors' },
  { lang: 'es', text: 'La integración con nuestro ERP falla con un error de sincronización de base de datos', subject: 'Error de sincronización' },
  { lang: 'en', text: 'Our server cluster shows high latency on the database replicas', subject: 'Replica latency' },
  { lang: 'de', text: 'Guten Tag, ich kann mich nicht anmelden und brauche Hilfe auf Deutsch', subject: 'Anmeldung nicht möglich' },
  { lang: 'fr', text: "Bonjour, ma commande n'est pas arrivée et j'ai besoin d'aide en français", subject: 'Commande non reçue' },
];

export const NAMES: Record<Problem['lang'], string[]> = {
  es: ['Lucía Pérez', 'Javier Gómez', 'Carmen Ruiz', 'Sofía Martín', 'Diego Torres', 'Mateo Sánchez', 'Isabel Navarro'],
  en: ['Emma Brown', 'Oliver Smith', 'Grace Lee', 'Noah Wilson', 'Ava Taylor'],
  de: ['Lukas Müller', 'Hannah Schmidt'],
  fr: ['Camille Dubois', 'Louis Martin'],
};

export const REPLIES: Record<Problem['lang'], string[]> = {
  es: ['Hola, gracias por escribirnos. Lo reviso ahora mismo.', 'Te acabo de enviar un enlace nuevo; dime si te llega.', 'Ya lo he solucionado, ¿puedes comprobarlo?'],
  en: ['Hi, thanks for reaching out. Let me check that for you.', "I've just sent you a new link; let me know if it arrives.", 'That should be fixed now, could you try again?'],
  de: ['Guten Tag, danke für Ihre Nachricht. Ich sehe mir das sofort an.', 'Das Problem sollte jetzt behoben sein.'],
  fr: ['Bonjour, merci pour votre message. Je regarde cela tout de suite.', 'Le problème devrait être résolu maintenant.'],
};

export const HANDOFF_NOTES = [
  'Reset link sent twice, account still locked: needs a tier-2 look at the identity provider.',
  'Cliente reinició el router dos veces; la línea sigue caída. Posible avería en la central.',
  'Reproduced the error on our side with page size 500; logs attached to the ticket.',
  'Verificado el cobro duplicado en la pasarela; requiere acceso a facturación.',
];
