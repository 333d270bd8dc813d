import { createRouter, createWebHistory } from 'vue-router'
import { session, clearSession, setUnauthorizedHandler } from './api'
import { canOpen } from './store'

const routes = [
  { path: '/login', component: () => import('./views/Login.vue'), meta: { public: true, bare: true, title: '登录' } },
  { path: '/', name: 'home', component: () => import('./views/Home.vue'), meta: { screen: 'home', title: '首页' } },
  { path: '/intake', component: () => import('./views/Intake.vue'), meta: { screen: 'intake', title: '受理窗口' } },
  { path: '/queue', component: () => import('./views/Queue.vue'), meta: { screen: 'queue', title: '分流台' } },
  { path: '/inbox', component: () => import('./views/Inbox.vue'), meta: { screen: 'inbox', title: '部门待办' } },
  { path: '/visits', component: () => import('./views/Visits.vue'), meta: { screen: 'visits', title: '回访' } },
  { path: '/supervision', component: () => import('./views/Supervision.vue'), meta: { screen: 'supervision', title: '督办' } },
  { path: '/cases', component: () => import('./views/Cases.vue'), meta: { screen: 'cases', title: '事项查询' } },
  { path: '/cases/:id', component: () => import('./views/CaseView.vue'), meta: { title: '事项详情' } },
  { path: '/admin', component: () => import('./views/Admin.vue'), meta: { screen: 'admin', title: '系统管理' } },
  { path: '/command', component: () => import('./views/Command.vue'), meta: { screen: 'command', bare: true, title: '指挥大屏' } },
  { path: '/grid', component: () => import('./views/GridWorker.vue'), meta: { screen: 'grid', bare: true, title: '网格员' } },
  { path: '/citizen', component: () => import('./views/Citizen.vue'), meta: { public: true, bare: true, title: '群众服务' } },
  { path: '/:rest(.*)*', redirect: '/' },
]

const router = createRouter({ history: createWebHistory(), routes })

export function homeFor(role) {
  return role === 'grid_worker' ? '/grid' : '/'
}

router.beforeEach((to) => {
  if (to.meta.public) return true
  if (!session.token || !session.user) return { path: '/login', query: { next: to.fullPath } }
  const role = session.user.role
  if (to.meta.screen && !canOpen(role, to.meta.screen)) return homeFor(role) === to.path ? true : homeFor(role)
  return true
})
router.afterEach((to) => { document.title = `${to.meta.title || ''} · 枫桥综治中心` })

setUnauthorizedHandler(() => {
  clearSession()
  const here = router.currentRoute.value
  if (!here.meta.public) router.push({ path: '/login', query: { next: here.fullPath } })
})

export default router
